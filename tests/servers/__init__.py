"""Real servers for the tests, started on 127.0.0.1 on free ports (see ../shared/COMPONENTS.md)."""
