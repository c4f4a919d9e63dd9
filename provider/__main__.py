"""The plugin Pulumi runs for `pulumi package add` and for every program using the package.

It serves `ImagePipeline` over Pulumi's provider protocol with Pulumi's Python component provider;
the schema is inferred from the type annotations of `components.settings.args.ImagePipelineArgs` and the
component's outputs.
"""

import sys
from pathlib import Path

# Pulumi runs `python <this folder> <engine>` from the program's folder: the component library is one level up
# (a git source is cloned whole, so it is there too).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider import main

from components.image_pipeline import ImagePipeline
from provider import PACKAGE, VERSION
from provider.inputs import ImagePipelineProvider

if __name__ == "__main__":
    # As `component_provider_host` does, with a provider that passes every input on (`provider/inputs.py`).
    main(ImagePipelineProvider([ImagePipeline], PACKAGE, version=VERSION), sys.argv[1:])
