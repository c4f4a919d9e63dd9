"""What the component (deploy time) and the functions (run time) agree on. Standard library only.

Both sides import this package and nothing else of each other: the component builds each
function's settings object and writes it with `to_env`; the function reads it back with
`from_env` when it starts. Every default is stated here or in the settings it derives from,
once.

- `functions`: the functions, each with its typed settings (`FUNCTIONS`, `handler_path`), and which a stack
  creates (`created_functions`), which the workflow invokes (`workflow_steps`) and which come after it.
- `recipe`: what shapes the variants (`Recipe`, `Limits`, `Budget`), the image core's one options object.
- `workflow_types`: STANDARD and EXPRESS as objects carrying what differs between them.
- `ownership`: status values, which upload owns an image, the attribute lists, the settled errors.
- `table`: the status table's keys and its `pending` index.
- `errors`: the errors the functions raise; a class name is the `errorType` the workflow matches.
- `environment`: the only reader of the process environment.
"""
