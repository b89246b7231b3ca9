"""Evaluate Terraform expressions without providers, for the subset this repository's
modules use: string templates, references (``var.x``, ``local.x``, ``data.t.n.attr``,
``module.m["k"].out``, ``statement.value``), lists and objects, ``for`` expressions,
splats (``module.m[*].out``), conditionals, comparisons, and the functions
``flatten``, ``keys``, ``values``, ``length``, ``one``, ``concat``, ``distinct``,
``compact``, ``tolist``, ``toset``, ``coalesce``, ``contains``, ``merge``.

Anything else raises :class:`Unsupported` naming it, so a module that starts using a
construct this reader does not know fails its test instead of being misread.
Values that only a provider knows (an ARN AWS assigns) are bound by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|>=|<=|&&|\|\||[\[\]{}(),.:?!<>=+\-*/%])
    | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    )""",
    re.VERBOSE,
)


class Unsupported(ValueError):
    """An expression this reader does not evaluate."""


def _one_error(xs: Any) -> Any:
    raise ValueError(f"one(): {len(xs)} elements")


def _flatten(xs: Any) -> list[Any]:
    out: list[Any] = []
    for x in xs:
        out += _flatten(x) if isinstance(x, list) else [x]
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "flatten": _flatten,
    "keys": sorted,
    "values": lambda m: [m[k] for k in sorted(m)],
    "length": len,
    "one": lambda xs: (list(xs) or [None])[0] if len(xs) <= 1 else _one_error(xs),
    "concat": lambda *xs: [v for x in xs for v in x],
    "distinct": lambda xs: list(dict.fromkeys(xs)),
    "compact": lambda xs: [x for x in xs if x not in ("", None)],
    "tolist": list,
    "toset": lambda xs: sorted(set(xs)),
    "coalesce": lambda *xs: next(x for x in xs if x not in (None, "")),
    "contains": lambda xs, x: x in xs,
    "merge": lambda *ms: {k: v for m in ms for k, v in (m or {}).items()},
    # a plain substring (a /regex/ argument is refused, not guessed)
    "replace": lambda s, old, new: (
        _unsupported("replace() with a regular expression")
        if old.startswith("/") and old.endswith("/")
        else s.replace(old, new)
    ),
}


def _unsupported(what: str) -> Any:
    raise Unsupported(what)


class Scope:
    """Names an expression may refer to: ``var``, ``local`` (evaluated lazily from
    their expressions), ``data``, ``module``, resources, and iteration variables."""

    def __init__(
        self,
        bindings: dict[str, Any],
        local_exprs: dict[str, Any] | None = None,
        parent: Scope | None = None,
    ) -> None:
        self.bindings = bindings
        self.local_exprs = local_exprs or {}
        self.parent = parent
        self._locals: dict[str, Any] = {}

    def child(self, **names: Any) -> Scope:
        return Scope(names, parent=self)

    def lookup(self, name: str) -> Any:
        if name == "local" and self.local_exprs:
            return _Locals(self)
        if name in self.bindings:
            return self.bindings[name]
        if self.parent is not None:
            return self.parent.lookup(name)
        raise KeyError(f"no value bound for {name!r}")

    def local(self, name: str) -> Any:
        if name not in self._locals:
            if name not in self.local_exprs:
                raise KeyError(f"no local {name!r}")
            self._locals[name] = evaluate(self.local_exprs[name], self)
        return self._locals[name]


class _Splat(list[Any]):
    """``x[*].attr``: the attribute of every element."""


class _Locals:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def get(self, name: str) -> Any:
        return self.scope.local(name)


def evaluate(value: Any, scope: Scope) -> Any:
    """A value as python-hcl2 gives it (strings may hold ``${...}``), evaluated."""
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items() if k != "__is_block__"}
    if not isinstance(value, str):
        return value
    text = value
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    whole = re.fullmatch(r"\$\{(.*)\}", text, re.DOTALL)
    if whole and _balanced(whole.group(1)):
        return _Parser(whole.group(1)).parse().eval(scope)
    return _template(text, scope)


def _balanced(inner: str) -> bool:
    """Whether ``inner`` of ``${inner}`` is one expression (not ``a}...${b``)."""
    depth = 0
    for ch in inner:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _template(text: str, scope: Scope) -> str:
    out, i = [], 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        depth, j = 1, start + 2
        while depth:
            if j >= len(text):
                raise Unsupported(f"unclosed template in {text!r}")
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            j += 1
        result = _Parser(text[start + 2 : j - 1]).parse().eval(scope)
        out.append(_text(result))
        i = j
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, list | dict):
        raise Unsupported(f"cannot interpolate {value!r} into a string")
    return str(value)


class _Node:
    def __init__(self, kind: str, *parts: Any) -> None:
        self.kind, self.parts = kind, parts

    def eval(self, scope: Scope) -> Any:
        k, p = self.kind, self.parts
        if k == "const":
            return p[0]
        if k == "string":
            return _template(p[0], scope)
        if k == "name":
            return scope.lookup(p[0])
        if k == "splat":
            base = p[0].eval(scope)
            return _Splat([] if base is None else list(base))
        if k == "attr":
            base = p[0].eval(scope)
            if isinstance(base, _Splat):
                return _Splat([item[p[1]] for item in base])
            if isinstance(base, _Locals):
                return base.get(p[1])
            if isinstance(base, dict):
                if p[1] not in base:
                    raise KeyError(f"no attribute {p[1]!r} in {sorted(base)}")
                return base[p[1]]
            raise Unsupported(f".{p[1]} of {type(base).__name__}")
        if k == "index":
            return p[0].eval(scope)[p[1].eval(scope)]
        if k == "list":
            return [x.eval(scope) for x in p[0]]
        if k == "object":
            return {key.eval(scope): v.eval(scope) for key, v in p[0]}
        if k == "call":
            if p[0] not in FUNCTIONS:
                raise Unsupported(f"function {p[0]}()")
            return FUNCTIONS[p[0]](*[a.eval(scope) for a in p[1]])
        if k == "for":
            names, coll, body, cond, as_object = p
            items = coll.eval(scope)
            pairs = items.items() if isinstance(items, dict) else enumerate(items)
            out_list, out_map = [], {}
            for key, val in pairs:
                bound = {names[-1]: val}
                if len(names) == 2:
                    bound[names[0]] = key
                inner = scope.child(**bound)
                if cond is not None and not cond.eval(inner):
                    continue
                if as_object:
                    out_map[body[0].eval(inner)] = body[1].eval(inner)
                else:
                    out_list.append(body.eval(inner))
            return out_map if as_object else out_list
        if k == "cond":
            return p[1].eval(scope) if p[0].eval(scope) else p[2].eval(scope)
        if k == "not":
            return not p[0].eval(scope)
        if k == "binop":
            op, a, b = p
            if op == "&&":
                return a.eval(scope) and b.eval(scope)
            if op == "||":
                return a.eval(scope) or b.eval(scope)
            x, y = a.eval(scope), b.eval(scope)
            ops = {
                "==": lambda: x == y,
                "!=": lambda: x != y,
                ">": lambda: x > y,
                "<": lambda: x < y,
                ">=": lambda: x >= y,
                "<=": lambda: x <= y,
                "+": lambda: x + y,
                "-": lambda: x - y,
            }
            if op not in ops:
                raise Unsupported(f"operator {op}")
            return ops[op]()
        raise Unsupported(k)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise Unsupported(f"cannot read {text[pos : pos + 30]!r} in {text!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise Unsupported(f"expected {value!r}, got {tok[1]!r} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.expr()
        if self.peek()[0] != "end":
            raise Unsupported(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return node

    def expr(self) -> _Node:
        cond = self.binary(0)
        if self.peek()[1] == "?":
            self.take("?")
            yes = self.expr()
            self.take(":")
            return _Node("cond", cond, yes, self.expr())
        return cond

    LEVELS = (("||",), ("&&",), ("==", "!="), (">", "<", ">=", "<="), ("+", "-"))

    def binary(self, level: int) -> _Node:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self.LEVELS[level]:
            op = self.take()[1]
            node = _Node("binop", op, node, self.binary(level + 1))
        return node

    def unary(self) -> _Node:
        if self.peek()[1] == "!":
            self.take()
            return _Node("not", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: _Node) -> _Node:
        while True:
            if self.peek()[1] == "." and self.peek(1)[0] == "name":
                self.take()
                node = _Node("attr", node, self.take()[1])
            elif self.peek()[1] == "[" and self.peek(1)[1] == "*":
                self.take()
                self.take()
                self.take("]")
                node = _Node("splat", node)
            elif self.peek()[1] == "[":
                self.take()
                key = self.expr()
                self.take("]")
                node = _Node("index", node, key)
            else:
                return node

    def primary(self) -> _Node:
        kind, value = self.take()
        if kind == "number":
            return _Node("const", float(value) if "." in value else int(value))
        if kind == "string":
            return _Node("string", value[1:-1].replace('\\"', '"'))
        if kind == "name":
            if value in ("true", "false"):
                return _Node("const", value == "true")
            if value == "null":
                return _Node("const", None)
            if self.peek()[1] == "(":
                self.take("(")
                args = []
                while self.peek()[1] != ")":
                    args.append(self.expr())
                    if self.peek()[1] == ",":
                        self.take()
                self.take(")")
                return _Node("call", value, args)
            return _Node("name", value)
        if value == "(":
            node = self.expr()
            self.take(")")
            return node
        if value in ("[", "{"):
            close = "]" if value == "[" else "}"
            if self.peek() == ("name", "for"):
                return self.for_expr(close)
            items: list[Any] = []
            while self.peek()[1] != close:
                if close == "]":
                    items.append(self.expr())
                else:
                    if self.peek()[0] == "name" and self.peek(1)[1] in ("=", ":"):
                        key = _Node("const", self.take()[1])  # a bare key is literal
                    else:
                        key = self.primary()
                    self.take()  # = or :
                    items.append((key, self.expr()))
                if self.peek()[1] == ",":
                    self.take()
            self.take(close)
            return _Node("list" if close == "]" else "object", items)
        raise Unsupported(f"{value!r} in {self.text!r}")

    def for_expr(self, close: str) -> _Node:
        self.take("for")
        names = [self.take()[1]]
        if self.peek()[1] == ",":
            self.take()
            names.append(self.take()[1])
        self.take("in")
        coll = self.expr()
        self.take(":")
        if close == "}":
            key = self.binary(0)
            self.take("=")
            self.take(">")
            body: Any = (key, self.expr())
        else:
            body = self.expr()
        cond = None
        if self.peek() == ("name", "if"):
            self.take()
            cond = self.expr()
        self.take(close)
        return _Node("for", names, coll, body, cond, close == "}")
