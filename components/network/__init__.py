"""VPC placement: which services the functions reach through endpoints and what they cost (`services`), the
created VPC (`vpc`), the endpoints (`endpoints`) and what is looked up at preview (`lookups`)."""
