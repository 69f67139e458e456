collect_ignore_glob = ["fixtures/*"]
