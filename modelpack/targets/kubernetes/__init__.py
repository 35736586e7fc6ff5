"""The Kubernetes target: a cluster runs the endpoints (see target.py).

Only this package imports pulumi_kubernetes and the Kubernetes client; a stack that does not
use the target never loads them.
"""
