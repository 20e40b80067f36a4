"""Subcontracting compliance and the 80 % CPF ceiling: pure rules (`rules`), the checks of
a contract's fields (`fields`), and the services that gather facts from the database
(`services`)."""
