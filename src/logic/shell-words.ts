// The words of a shell script (`sh -c '...'`), just well enough to find secrets in them:
// quotes removed, each character mapped back to where it stands in the script, and the
// script cut into simple commands at ; | & newline, ( ), $( ) and backquotes (the
// commands inside a substitution are commands of their own). No expansion is done.

export interface ShellWord {
  /** The word with quotes and escapes removed. */
  text: string;
  /** at[i]: index in the script of text[i]. */
  at: number[];
}

/** What ends the context we are in: a closing quote, parenthesis or backquote. */
type Closer = '"' | ')' | '`';

export function shellCommands(script: string): ShellWord[][] {
  const commands: ShellWord[][] = [];
  let words: ShellWord[] = [];
  let word: ShellWord | null = null;
  const stack: Closer[] = [];
  const add = (index: number) => {
    word ??= { text: '', at: [] };
    word.text += script.charAt(index);
    word.at.push(index);
  };
  const endWord = () => {
    if (word) words.push(word);
    word = null;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };

  for (let i = 0; i < script.length; i++) {
    const c = script.charAt(i);
    const next = script.charAt(i + 1);
    const inDoubleQuotes = stack[stack.length - 1] === '"';
    if (c === '\\' && i + 1 < script.length) {
      // Inside double quotes a backslash only escapes $ ` " \ and newline.
      if (inDoubleQuotes && !'$`"\\\n'.includes(next)) add(i);
      else if (next !== '\n') add(i + 1);
      i++;
      continue;
    }
    if (c === '$' && next === '(') {
      endCommand();
      stack.push(')');
      i++;
      continue;
    }
    if (c === '`') {
      endCommand();
      if (stack[stack.length - 1] === '`') stack.pop();
      else stack.push('`');
      continue;
    }
    if (inDoubleQuotes) {
      if (c === '"') stack.pop();
      else add(i);
      continue;
    }
    if (c === "'") {
      const close = script.indexOf("'", i + 1);
      const end = close < 0 ? script.length : close;
      word ??= { text: '', at: [] };
      for (let j = i + 1; j < end; j++) add(j);
      i = end;
      continue;
    }
    if (c === '"') {
      word ??= { text: '', at: [] };
      stack.push('"');
    } else if (c === '(') {
      endCommand();
      stack.push(')');
    } else if (c === ')') {
      endCommand();
      if (stack[stack.length - 1] === ')') stack.pop();
    } else if (';&|\n'.includes(c)) {
      endCommand();
    } else if (' \t\r<>'.includes(c)) {
      endWord();
    } else {
      add(i);
    }
  }
  endCommand();
  return commands;
}
