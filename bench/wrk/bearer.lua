-- GET with a bearer token from the BEARER environment variable.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
