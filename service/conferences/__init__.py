"""Conferences, in three parts: the records (crud.py: create, read back, update, list),
the schedule and the status that follows the clock (schedule.py), and the participating
sites (sites.py); access.py says who sees a conference and whether it may still change.

The names callers use are re-exported here, so `from diemcau.conferences import reload`
works wherever the rule lives.
"""

from diemcau.conferences.access import (
    ensure_writable,
    hold_writable,
    may_read_part,
    may_see,
    not_found,
    reload,
    visible_to,
)
from diemcau.conferences.crud import (
    ConferenceIn,
    ConferencePatch,
    Policy,
    Targets,
    conference_out,
    create_conference,
    list_conferences,
    update_conference,
)
from diemcau.conferences.schedule import (
    DEFAULT_TIMEZONE,
    NEXT,
    STATUSES,
    When,
    change_status,
    check_window,
    localise,
)
from diemcau.conferences.sites import set_sites

__all__ = [
    "DEFAULT_TIMEZONE",
    "NEXT",
    "STATUSES",
    "ConferenceIn",
    "ConferencePatch",
    "Policy",
    "Targets",
    "When",
    "change_status",
    "check_window",
    "conference_out",
    "create_conference",
    "ensure_writable",
    "hold_writable",
    "list_conferences",
    "localise",
    "may_read_part",
    "may_see",
    "not_found",
    "reload",
    "set_sites",
    "update_conference",
    "visible_to",
]
