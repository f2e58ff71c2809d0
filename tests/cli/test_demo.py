import inspect

from qstar.cli import games


def test_demo_passes_every_train_option():
    """demo calls the train command directly: it must name every option (typer defaults are not values)."""
    train_params = set(inspect.signature(games._make_train("tictactoe")).parameters)
    src = inspect.getsource(games.demo)
    missing = [p for p in train_params if f"{p}=" not in src]
    assert not missing, missing
    eval_params = set(inspect.signature(games.eval_connect4).parameters)
    assert not [p for p in eval_params if f"{p}=" not in src]
