from .cli import main

# Worker processes are spawned: they import this module again, under another name.
if __name__ == "__main__":
    raise SystemExit(main())
