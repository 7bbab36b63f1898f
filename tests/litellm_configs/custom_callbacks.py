"""The CustomLogger beside docs_call_hooks.yaml, written as LiteLLM's docs show one.

Shaped as https://docs.litellm.ai/docs/proxy/call_hooks and
https://docs.litellm.ai/docs/observability/custom_callback write it: a
``CustomLogger`` subclass with the proxy hooks and the logging hooks, and a
module-level ``proxy_handler_instance`` that ``litellm_settings.callbacks``
names. The docs' version imports ``UserAPIKeyAuth`` and ``DualCache`` from
``litellm.proxy.proxy_server``, which needs LiteLLM's proxy extras installed;
they come from their defining modules here. Every event is recorded on the
instance so the tests can read what fired, with which kwargs.
"""

from typing import Any, Literal

from fastapi import HTTPException
from litellm.caching.dual_cache import DualCache
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import UserAPIKeyAuth


class MyCustomHandler(
    CustomLogger
):  # https://docs.litellm.ai/docs/observability/custom_callback#callback-class
    def __init__(self):
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    #### CALL HOOKS - proxy only ####

    async def async_pre_call_hook(
        self,
        user_api_key_dict: UserAPIKeyAuth,
        cache: DualCache,
        data: dict,
        call_type: Literal["completion", "text_completion", "embeddings"],
    ) -> dict | str | Exception | None:
        text = str(data["messages"][-1].get("content"))
        if "Hello world" in text:
            return "This is an invalid response"  # returned to the caller as the answer
        if "forbidden" in text:
            raise HTTPException(status_code=400, detail={"error": "Violated content safety policy"})
        if "reroute" in text:
            data["model"] = "anthropic-router"  # a deployment id: LiteLLM routes to it
        if "crash" in text:
            raise KeyError("a bug in the hook")  # not a refusal: the request goes on
        data["temperature"] = 0.2
        data.setdefault("metadata", {})["hooked"] = True
        self.events.append(("pre_call", data["model"], user_api_key_dict.team_id))
        return data

    async def async_moderation_hook(self, data: dict, user_api_key_dict, call_type):
        if "moderate me" in str(data["messages"][-1].get("content")):
            raise HTTPException(status_code=400, detail={"error": "Moderation said no"})

    async def async_post_call_success_hook(
        self, data: dict, user_api_key_dict: UserAPIKeyAuth, response
    ):
        self.events.append(("post_call_success", data["model"]))

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: UserAPIKeyAuth,
        traceback_str=None,
    ):
        self.events.append(("post_call_failure", type(original_exception).__name__))

    #### LOGGING HOOKS ####

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.events.append(("sync_success", kwargs["litellm_params"]["metadata"]["model_group"]))

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.events.append(("success", kwargs, response_obj))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self.events.append(("failure", kwargs, response_obj))


proxy_handler_instance = MyCustomHandler()
