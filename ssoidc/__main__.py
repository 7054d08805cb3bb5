from ssoidc.cli import main

main()
