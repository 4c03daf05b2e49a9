"""The API's models: what a request may carry and what a response says, one module per
resource (named as its routes are). The routes, the web UI and the data layer build them
(`X.of(row)` where a row becomes one); none defines its own."""
