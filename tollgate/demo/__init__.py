"""A small service to try Tollgate on: healthy, or broken on purpose."""
