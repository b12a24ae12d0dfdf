"""Scripts that use every call caw 0.1.9's guides show, run by tests/compat/test_guides.py."""
