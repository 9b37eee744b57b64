from locust import HttpUser, task, constant

class Reader(HttpUser):
    wait_time = constant(0.01)

    @task(3)
    def index(self):
        self.client.get("/index.html")

    @task(1)
    def missing(self):
        self.client.get("/missing.html", name="/missing")
