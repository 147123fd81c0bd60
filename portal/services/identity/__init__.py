"""Identity use cases: sign-in, users and roles, what a customer user may see."""
