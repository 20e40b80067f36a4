"""What the tests share: the run's folder and database (`run`), the applications and the
per-test reset (`apps`, `database`), logging in and CSRF tokens (`auth`), SQL counting
(`queries`). The fixtures that use them are in tests/conftest.py; the factories of test
data are in tests/factories/."""
