"""The follow-up of an OF's Qualiopi certificate: its dates, audits and deadlines."""
