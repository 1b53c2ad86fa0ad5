"""BigPanda itself: its lifecycle events, a simulated incident, the webhook body, its API.

`events` (event names and statuses), `testmark` (how a body is marked as test data),
`simulator` (one incident through its lifecycle), `webhook` (the body a share sends:
envelopes, the one `incident_of`, calibrated shapes) and `api` (the BigPanda API client).
Nothing is imported here, so `bp_integrate.bigpanda.events` costs only itself.
"""
