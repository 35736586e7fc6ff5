import pulumi

from modelpack.targets.docker import Container, ContainerArgs, Network, NetworkArgs

config = pulumi.Config()
network = Network("net", NetworkArgs(name=f"smoke-{pulumi.get_stack()}"))
web = Container(
    "web",
    ContainerArgs(
        name=f"smoke-{pulumi.get_stack()}-web",
        image="python:3.11-slim",
        command=["python3", "-m", "http.server", "8000"],
        env={"GREETING": config.require("greeting")},
        labels={"modelpack.stack": pulumi.get_stack()},
        ports=[{"container": 8000}],
        network=network.name,
        cpus=0.5,
        memory_mb=128,
        stop_grace_s=1,
    ),
)
pulumi.export("container_id", web.container_id)
pulumi.export("host_ports", web.host_ports)
