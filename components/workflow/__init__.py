"""The Step Functions workflow: its Amazon States Language definition built by plain functions (`definition`,
`states`, `express`, `moderation`) and the resources that run it (`resources`)."""
