"""The Lambda functions: one entry point per function here (`handlers/<name>.py:lambda_handler`), the rules of
an image's life in `lifecycle/`, the pure image core in `image/`. Settings come from `contract`."""
