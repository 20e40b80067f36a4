"""Quality controls of OF against the RNQ ("contrôle de la qualité effective")."""
