"""``python -m octstore``: the ``octstore`` command."""

if __name__ == "__main__":
    from octstore.cli import main

    main()
