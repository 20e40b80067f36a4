"""Webhooks: events told to the funders' systems.

- `outbox.emit` writes an event, and one delivery per listening endpoint of the funder,
  in the transaction of the change it reports (an outbox): no event for a rolled-back
  change, none lost for a committed one.
- `worker` claims due deliveries (atomically: several workers never send one twice),
  sends them signed (`signing`), retries with exponential back-off for a day, keeps the
  order per dossier, and logs every try.
- `endpoints` are the funder admin's services: register, disable, redeliver.
"""
