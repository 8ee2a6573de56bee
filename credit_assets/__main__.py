from credit_assets.cli import main

main()
