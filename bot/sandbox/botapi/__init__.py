"""A Telegram Bot API emulator for the sandbox, the tests and the benches.

Production code never imports it (an import contract checks that).
"""
