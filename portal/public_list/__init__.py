"""Import of the DGEFP public list of training providers (liste publique des OF)."""
