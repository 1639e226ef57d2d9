from calsync.cli import main

if __name__ == "__main__":  # the reading pool's processes import this module again
    main()
