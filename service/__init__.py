"""diemcau: registry and attendance for hybrid conferences over multi-site video bridges."""

__version__ = "0.1.0"
