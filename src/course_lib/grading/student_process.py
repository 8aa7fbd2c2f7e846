"""The forked process that runs one exercise's cell: student code in, plain data out.

Started by :mod:`course_lib.grading.harness` in a child process per exercise. It switches to
that exercise's own stubbed copy of ``course_lib`` (:func:`enter_copy`), runs only the
exercise's cell in a fresh namespace, calls the function on each case input (decoded from
plain data before any student code runs) and writes one JSON line per case to the pipe
``out_fd``: ``{"case": i, "output": ...}`` or ``{"case": i, "error": ...}``, then
``{"done": true}``. A cell that does not run sends ``{"cell_error": ...}``; ``sys.exit()``
sends ``{"exited": ...}``.

Nothing here decides a grade: the grader only awards points for values that equal the
references it computed itself.
"""

from __future__ import annotations

import builtins
import importlib
import json
import os
import sys

from course_lib.grading.namespace import drop_capabilities, private_view

# Student code may replace builtins in its process; these references were taken before
# any student code ran (the child also restores builtins after each piece of student code).
_isinstance, _str, _type = isinstance, str, type

EXIT_MEMORY = 86  # a child ran out of memory
EXIT_EXITED = 87  # student code called sys.exit()
MAX_MESSAGE = 2000


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(fd: int, record: dict) -> None:
    """One JSON line on ``fd``."""
    write_all(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


def describe(error: BaseException) -> str:
    """``Type: message`` of an exception, capped, even if its ``__str__`` fails."""
    try:
        text = f"{_type(error).__name__}: {error}"
    except Exception:  # a student exception whose __str__ fails
        text = "an exception"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def _is_out_of_memory(error: BaseException) -> bool:
    if _isinstance(error, MemoryError):
        return True
    try:
        text = _str(error).lower()
    except Exception:
        return False
    return any(
        phrase in text
        for phrase in ("can't allocate memory", "cannot allocate memory", "out of memory")
    )


def enter_copy(exercise: dict, stage: str | None, nested: bool) -> str:
    """Make ``import course_lib`` give this exercise's stubbed copy, and forget every
    ``course_lib`` module imported so far. Returns how the copy is isolated:

    * ``"private-mount"``: only this exercise's copy is visible at all (bubblewrap);
    * ``"search-path"``: this exercise's copy comes first on ``sys.path``, but other
      copies (and, without bubblewrap, the real package) can still be found on disk;
    * ``"none"``: the job gave no stage.
    """
    if not stage or exercise.get("stub_folder") is None:
        return "none"
    base = os.path.join(stage, "base")
    mine = os.path.join(stage, "ex", _str(exercise["stub_folder"]))
    mode = "search-path"
    target = mine
    if nested:
        try:
            private_view(base, mine, os.path.join(stage, "ex"))
            mode, target = "private-mount", base
        except Exception as error:
            mode = f"search-path (private mount failed: {describe(error)[:200]})"
            try:
                drop_capabilities()
            except Exception:
                pass
    for name in [n for n in sys.modules if n == "course_lib" or n.startswith("course_lib.")]:
        del sys.modules[name]
    sys.path[:] = [target] + [p for p in sys.path if p not in (base, mine)]
    importlib.invalidate_caches()
    return mode


def _patch_forbidden(names: list, forbidden_use: type[Exception]) -> list[str]:
    """Best effort, in this process only: forbidden names outside ``course_lib`` (such as
    ``torch.softmax``) are replaced by stubs raising ``forbidden_use``. Student code can
    still reach the original through another route (``torch._C``), so the static check
    stays the first line."""
    patched = []
    for name in names:
        parts = _str(name).split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
            except Exception:
                continue
            try:
                for part in parts[cut:-1]:
                    owner = getattr(owner, part)
                getattr(owner, parts[-1])

                def stub(*args, _name=name, **kwargs):
                    raise forbidden_use(_name)

                setattr(owner, parts[-1], stub)
                patched.append(name)
            except Exception:
                pass
            break
    return patched


class _Child:
    """The state of the child: its pipe, the namespace of the cell, saved builtins."""

    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.namespace: dict = {"__name__": "__main__"}
        self.saved_builtins = dict(builtins.__dict__)

    def restore_builtins(self) -> None:
        """Undo changes the student's code made to builtins before the harness's own code
        (messages, encoding) runs again; patching ``isinstance`` or ``print`` then changes
        nothing but the student's own computation."""
        current = builtins.__dict__
        for name in [name for name in current if name not in self.saved_builtins]:
            del current[name]
        current.update(self.saved_builtins)

    def send(self, record: dict) -> None:
        send(self.out_fd, record)

    def finish(self, code: int) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)

    def out_of_memory(self) -> None:
        self.namespace.clear()
        self.finish(EXIT_MEMORY)

    def run_cell(self, exercise: dict) -> None:
        """Run the cell; on any failure report it and end the process."""
        source = exercise["source"]
        try:
            exec(compile(source, f"<exercise {exercise['id']}>", "exec"), self.namespace)
        except SystemExit as error:
            self.restore_builtins()
            self.send({"exited": f"the cell called sys.exit({error.code!r})"})
            self.finish(EXIT_EXITED)
        except BaseException as error:
            self.restore_builtins()
            if _is_out_of_memory(error):
                self.out_of_memory()
            message = describe(error)
            if _isinstance(error, SyntaxError) and any(
                line.lstrip().startswith(("%", "!")) for line in source.splitlines()
            ):
                message += " (IPython magics such as %time or !pip cannot run in the grader)"
            self.send({"cell_error": message})
            self.finish(0)
        self.restore_builtins()
        function = exercise["function"]
        if exercise.get("kind") == "checkpoint":
            if function not in self.namespace:
                self.send({"cell_error": f"the cell does not assign an answer to {function!r}"})
                self.finish(0)
        elif not callable(self.namespace.get(function)):
            self.send({"cell_error": f"the cell does not define a function named {function!r}"})
            self.finish(0)

    def call_cases(self, exercise: dict, inputs: list, max_output: int, plaindata) -> None:
        """Call the function on each input (a checkpoint's answer is the value itself)
        and send each output, encoded as plain data."""
        checkpoint = exercise.get("kind") == "checkpoint"
        answer = self.namespace.get(exercise["function"])
        for index, (args, kwargs) in enumerate(inputs):
            try:
                output = answer if checkpoint else answer(*args, **kwargs)
                self.restore_builtins()
                text = plaindata.dumps(output, "your output")
            except SystemExit as error:
                self.restore_builtins()
                self.send({"exited": f"the function called sys.exit({error.code!r})"})
                self.finish(EXIT_EXITED)
            except NotImplementedError:
                self.restore_builtins()
                message = "not implemented yet (raise NotImplementedError())"
                self.send({"case": index, "error": message})
                continue
            except BaseException as error:
                self.restore_builtins()
                if _is_out_of_memory(error):
                    del error
                    self.out_of_memory()
                self.send({"case": index, "error": describe(error)})
                continue
            if len(text) > max_output:
                message = f"the output is larger than {max_output} bytes"
                self.send({"case": index, "error": message})
                continue
            write_all(self.out_fd, b'{"case":%d,"output":%s}\n' % (index, text.encode()))


def run_child(
    exercise: dict, out_fd: int, max_output: int, stage: str | None = None, nested: bool = False
) -> None:
    """Runs in the forked child: the student's cell and function, nothing else. Never
    returns (the process ends with ``os._exit``)."""
    copy_mode = enter_copy(exercise, stage, nested)
    # imported only now, from this exercise's own stubbed copy of course_lib
    from course_lib.exercises import core
    from course_lib.grading import plaindata

    core._forbidden_report_fd = out_fd
    send(out_fd, {"copy": copy_mode})
    _patch_forbidden(list(exercise.get("patch", [])), core.ForbiddenUse)
    child = _Child(out_fd)
    # inputs are decoded before any student code runs, so that patching builtins or torch
    # in the cell cannot change what the function is called with
    inputs = [
        (
            plaindata.decode(case["args"], objects="build"),
            plaindata.decode(case["kwargs"], objects="build"),
        )
        for case in exercise["cases"]
    ]
    child.run_cell(exercise)
    child.call_cases(exercise, inputs, max_output, plaindata)
    child.send({"done": True})
    child.finish(0)
