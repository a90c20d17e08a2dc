"""The entrance kiosk (web page and Python client). Built by the check-in issue."""
