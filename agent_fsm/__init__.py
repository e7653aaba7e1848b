"""agent-fsm: the multi-turn, streaming, tool-calling loop of an LLM agent as an explicit FSM.

The public API is re-exported here. Names are resolved lazily, so importing the sans-IO core
(``agent_fsm.machine``) pulls in neither ``asyncio`` nor ``httpx``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .agent import DEFAULT_MAX_TURNS, Agent
    from .errors import (
        AgentFSMError,
        ApprovalRequired,
        CompletionError,
        ConfigurationError,
        HookError,
        IllegalTransition,
        MaxTurnsExceeded,
        PromptCancelled,
        SnapshotError,
        ToolServerError,
    )
    from .hooks import HookAction, StreamingPromptHook, ToolCallHookAction
    from .items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
    from .machine import TurnMachine
    from .machine.protocol import ToolOutput
    from .machine.snapshot import Approval, Snapshot, approve, deny
    from .machine.table import State
    from .messages import (
        AssistantMessage,
        Image,
        Message,
        Reasoning,
        Text,
        ToolCall,
        ToolFunction,
        ToolResult,
        Usage,
        UserMessage,
    )
    from .observe import Observer
    from .observe.log import LoggingObserver
    from .providers.cassette import RecordingModel, ReplayMismatch, ReplayModel
    from .request import CompletionRequest, Model, ToolDefinition
    from .run.console import stream_to_stdout
    from .run.driver import AgentRun
    from .run.effects import DirectEffects, Effects
    from .tools import Tool, ToolServer, ToolSet, tool

_EXPORTS: dict[str, str] = {
    "Agent": "agent",
    "DEFAULT_MAX_TURNS": "agent",
    "RecordingModel": "providers.cassette",
    "ReplayMismatch": "providers.cassette",
    "ReplayModel": "providers.cassette",
    "stream_to_stdout": "run.console",
    "AgentRun": "run.driver",
    "DirectEffects": "run.effects",
    "Effects": "run.effects",
    "AgentFSMError": "errors",
    "ApprovalRequired": "errors",
    "CompletionError": "errors",
    "ConfigurationError": "errors",
    "HookError": "errors",
    "IllegalTransition": "errors",
    "MaxTurnsExceeded": "errors",
    "PromptCancelled": "errors",
    "SnapshotError": "errors",
    "ToolServerError": "errors",
    "HookAction": "hooks",
    "StreamingPromptHook": "hooks",
    "ToolCallHookAction": "hooks",
    "FinalResponse": "items",
    "StreamAssistantItem": "items",
    "StreamItem": "items",
    "StreamUserItem": "items",
    "LoggingObserver": "observe.log",
    "TurnMachine": "machine",
    "AssistantMessage": "messages",
    "Image": "messages",
    "Message": "messages",
    "Reasoning": "messages",
    "Text": "messages",
    "ToolCall": "messages",
    "ToolFunction": "messages",
    "ToolResult": "messages",
    "Usage": "messages",
    "UserMessage": "messages",
    "Observer": "observe",
    "ToolOutput": "machine.protocol",
    "CompletionRequest": "request",
    "Model": "request",
    "ToolDefinition": "request",
    "Approval": "machine.snapshot",
    "Snapshot": "machine.snapshot",
    "approve": "machine.snapshot",
    "deny": "machine.snapshot",
    "State": "machine.table",
    "Tool": "tools",
    "ToolServer": "tools",
    "ToolSet": "tools",
    "tool": "tools",
}

__all__ = [
    "Agent",
    "AgentFSMError",
    "AgentRun",
    "Approval",
    "ApprovalRequired",
    "AssistantMessage",
    "CompletionError",
    "CompletionRequest",
    "ConfigurationError",
    "DEFAULT_MAX_TURNS",
    "DirectEffects",
    "Effects",
    "FinalResponse",
    "HookAction",
    "HookError",
    "IllegalTransition",
    "Image",
    "LoggingObserver",
    "MaxTurnsExceeded",
    "Message",
    "Model",
    "Observer",
    "PromptCancelled",
    "Reasoning",
    "RecordingModel",
    "ReplayMismatch",
    "ReplayModel",
    "Snapshot",
    "SnapshotError",
    "State",
    "StreamAssistantItem",
    "StreamItem",
    "StreamUserItem",
    "StreamingPromptHook",
    "Text",
    "Tool",
    "ToolCall",
    "ToolCallHookAction",
    "ToolDefinition",
    "ToolFunction",
    "ToolOutput",
    "ToolResult",
    "ToolServer",
    "ToolServerError",
    "ToolSet",
    "TurnMachine",
    "Usage",
    "UserMessage",
    "approve",
    "deny",
    "stream_to_stdout",
    "tool",
]
__version__ = "0.1.0"


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
