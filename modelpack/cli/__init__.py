"""`modelpack`: workspaces (one Pulumi stack and backend each), the lifecycle verbs and
`az ml online-endpoint`-style verbs (invoke, keys, logs, list). See cli/commands.py."""
