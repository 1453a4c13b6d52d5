"""Kedro pipelines: thin glue between the catalog and the library areas.

What every pipeline package writes alike lives here, since a pipeline package imports no other:
how a node is named and how it names the parameter sections it reads.
"""

from collections.abc import Callable, Iterable

from kedro.pipeline import Node

# Nodes with this tag register the model in MLflow; `inference` leaves them out.
REGISTRY_TAG = "model_registry"


def stage_node(
    func: Callable,
    inputs: Iterable[str] = (),
    params: Iterable[str] = (),
    outputs: str | list[str] | None = None,
    tags: Iterable[str] | None = None,
) -> Node:
    """A node of `func` named `<function>_node`, the name runs, tests, kedro viz and MLflow use.

    `func` receives the datasets `inputs`, then the parameter sections `params` (`"seed"` reads
    `params:seed`), in that order.
    """
    return Node(
        func,
        inputs=[*inputs, *(f"params:{name}" for name in params)],
        outputs=outputs,
        name=f"{func.__name__}_node",
        tags=tags,
    )
