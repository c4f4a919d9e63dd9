"""Run the pipeline on moto, in one process, with the real handlers and definitions.

Importing this package points every AWS client of the process at a fixed test region with
dummy credentials: nothing here can reach a real account, even by mistake.
"""

import os

os.environ.update({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                   "POWERTOOLS_METRICS_NAMESPACE": "ImagePipeline"})
for _variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_variable, None)
