"""agent-fsm: the multi-turn, streaming, tool-calling loop of an LLM agent as an explicit FSM.

The public API is re-exported here. Names are resolved lazily, so importing the sans-IO core
(``agent_fsm.machine``) pulls in neither ``asyncio`` nor ``httpx``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__ as __version__

if TYPE_CHECKING:
    from .agent import DEFAULT_MAX_TURNS as DEFAULT_MAX_TURNS
    from .agent import Agent as Agent
    from .errors import AgentFSMError as AgentFSMError
    from .errors import ApprovalRequired as ApprovalRequired
    from .errors import CompletionError as CompletionError
    from .errors import ConfigurationError as ConfigurationError
    from .errors import HookError as HookError
    from .errors import IllegalTransition as IllegalTransition
    from .errors import MaxTurnsExceeded as MaxTurnsExceeded
    from .errors import PromptCancelled as PromptCancelled
    from .errors import SnapshotError as SnapshotError
    from .errors import ToolServerError as ToolServerError
    from .errors import UsageLimitExceeded as UsageLimitExceeded
    from .hooks import HookAction as HookAction
    from .hooks import StreamingPromptHook as StreamingPromptHook
    from .hooks import ToolCallHookAction as ToolCallHookAction
    from .items import FinalResponse as FinalResponse
    from .items import StreamAssistantItem as StreamAssistantItem
    from .items import StreamItem as StreamItem
    from .items import StreamUserItem as StreamUserItem
    from .machine import TurnMachine as TurnMachine
    from .machine.snapshot import Approval as Approval
    from .machine.snapshot import Snapshot as Snapshot
    from .machine.snapshot import approve as approve
    from .machine.snapshot import deny as deny
    from .machine.table import State as State
    from .messages import AssistantMessage as AssistantMessage
    from .messages import Image as Image
    from .messages import Message as Message
    from .messages import Reasoning as Reasoning
    from .messages import Text as Text
    from .messages import ToolCall as ToolCall
    from .messages import ToolFunction as ToolFunction
    from .messages import ToolResult as ToolResult
    from .messages import Usage as Usage
    from .messages import UserMessage as UserMessage
    from .observe import Observer as Observer
    from .observe.log import LoggingObserver as LoggingObserver
    from .providers.cassette import RecordingModel as RecordingModel
    from .providers.cassette import ReplayMismatch as ReplayMismatch
    from .providers.cassette import ReplayModel as ReplayModel
    from .request import CompletionRequest as CompletionRequest
    from .request import Model as Model
    from .request import ToolDefinition as ToolDefinition
    from .request import ToolOutput as ToolOutput
    from .request import UsageLimits as UsageLimits
    from .run.console import stream_to_stdout as stream_to_stdout
    from .run.driver import AgentRun as AgentRun
    from .run.effects import DirectEffects as DirectEffects
    from .run.effects import Effects as Effects
    from .tools import Tool as Tool
    from .tools import ToolServer as ToolServer
    from .tools import ToolSet as ToolSet
    from .tools import tool as tool


__all__, __getattr__, __dir__ = lazy_exports(__name__, __file__)
