"""The stack program: this stack's `image-pipeline:pipeline` settings -> one ImagePipeline -> its outputs.

The component validates the settings (every problem at once) as it does for other languages' programs.
"""

import pulumi

from components import ImagePipeline

settings = pulumi.Config("image-pipeline").get_object("pipeline") or {}
pipeline = ImagePipeline(f"images-{pulumi.get_stack()}", settings)

pulumi.export("input_bucket_name", pipeline.input_bucket_name)
pulumi.export("output_bucket_name", pipeline.output_bucket_name)
pulumi.export("queue_url", pipeline.queue_url)
pulumi.export("queue_arn", pipeline.queue_arn)
pulumi.export("dead_letter_queue_url", pipeline.dead_letter_queue_url)
pulumi.export("dead_letter_queue_arn", pipeline.dead_letter_queue_arn)
pulumi.export("state_machine_arn", pipeline.state_machine_arn)
pulumi.export("table_name", pipeline.table_name)
pulumi.export("topic_arn", pipeline.topic_arn)
pulumi.export("function_names", pipeline.function_names)
