"""What every dynamic provider of the project shares: progress lines in the Pulumi CLI's output
and the one way to diff inputs (see diff.py)."""
