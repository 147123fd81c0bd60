"""What the tests share: paths, factories, sign-in and CSRF helpers, the outside servers they run."""
