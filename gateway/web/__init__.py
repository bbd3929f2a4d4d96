"""The Litestar app: routes, chat commands; handlers stay short and get the runtime injected."""
