"""Rules of dossiers shared by several blueprints (dossiers, service_fait, signalements)."""
