"""Administration: funders, accounts, invitations, followed OF and the audit log."""

from portal.blueprints.admin.routes import bp

__all__ = ["bp"]
