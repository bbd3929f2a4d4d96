"""One execution in a worker: the runner claims it, a handler per action does it under the retry policy."""
