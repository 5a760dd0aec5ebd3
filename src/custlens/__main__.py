from .cli import cli

if __name__ == "__main__":  # not when imported (e.g. by a multiprocessing child)
    cli(prog_name="custlens")
