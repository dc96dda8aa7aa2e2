"""Celery settings that the reliability of the queue depends on."""

from __future__ import annotations

from celery import Celery

from partnermatch.config.celery import QUEUES, ROUTES, celery_config
from partnermatch.config.settings import load_settings
from partnermatch.shared.outbox.names import TaskName


def test_each_task_is_routed_to_exactly_one_queue():
    celery = Celery("routing-check")
    celery.conf.update(celery_config(load_settings({"REDIS_URL": "redis://127.0.0.1:1/0"})))
    queues = {q.name: q for q in celery.conf.task_queues}
    assert set(queues) == set(QUEUES)
    keys = [(q.exchange.name, q.routing_key) for q in queues.values()]
    assert len(set(keys)) == len(keys)
    router = celery.amqp.router
    for task, queue in (("partnermatch.match_profile", "matching"),
                        ("partnermatch.send_email", "email"),
                        ("partnermatch.relay_outbox", "events")):
        route = router.route({}, task)
        assert route["queue"].name == queue
        assert route["queue"].routing_key == queue


def test_every_task_named_has_a_route():
    assert set(ROUTES) == set(TaskName)


def test_visibility_timeout_is_above_the_hard_time_limit():
    config = celery_config(load_settings({"REDIS_URL": "redis://127.0.0.1:1/0"}))
    assert config["broker_transport_options"]["visibility_timeout"] > config["task_time_limit"]
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
