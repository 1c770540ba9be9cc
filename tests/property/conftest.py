from tests.unit.conftest import loopback_only

__all__ = ["loopback_only"]
