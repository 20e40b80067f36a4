"""The API's domain: funders' tokens and the idempotency of creations (the routes are in
portal/blueprints/api, the webhooks in portal/webhooks)."""
