"""Guide "Toolkit": @tool stateless tools, a ToolKit with state, ToolGroup limits."""

from __future__ import annotations

from caw import Agent, ToolGroup, ToolKit, tool


@tool(description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


@tool(description="Multiply two numbers")
def multiply(a: int, b: int) -> int:
    return a * b


agent = Agent(system_prompt="Use the math tools.", stateless_tools=[add, multiply])
traj = agent.completion('[[mcp:tools:multiply:{"a": 6, "b": 7}]] What is 6 times 7?')
assert traj.result == "Tool said: 42", traj.result


class Shelf(ToolKit, server_name="shelf", display_name="A shelf of books"):
    def __init__(self) -> None:
        self.books = ["Dune"]

    @tool(description="Put a book on the shelf")
    async def put(self, title: str) -> str:
        self.books.append(title)
        return f"Put {title}"

    @tool(description="The books on the shelf")
    async def books_on_shelf(self) -> str:
        return ", ".join(self.books)


class Counter(ToolKit, server_name="counter", thread_safe=True):
    def __init__(self) -> None:
        self.n = 0

    @tool(description="Count one more")
    def bump(self) -> str:
        self.n += 1
        return f"n={self.n}"


shelf = Shelf()
agent = Agent(system_prompt="You keep a shelf.", tool_servers=[shelf, Counter()])
with agent.start_session() as session:
    session.send('[[mcp:shelf:put:{"title": "Emma"}]] Shelve Emma.')
    turn = session.send("[[mcp:shelf:books_on_shelf:{}]] What is on the shelf?")
assert turn.result == "Tool said: Dune, Emma", turn.result
assert shelf.books == ["Dune", "Emma"]  # the toolkit's state is the caller's object

reader = Agent(tools=ToolGroup.READER)
no_writes = Agent(tools=ToolGroup.ALL - ToolGroup.WRITER)
assert reader.completion("Repeat after me: read only").result == "read only"
assert no_writes.completion("Repeat after me: no writes").result == "no writes"
print("ok")
