/**
 * Keeping engines' internal ports (their port blocks) out of VS Code's automatic port forwarding, which
 * under Remote-SSH and in code-server forwards every port that starts listening. Written to the
 * workspace's `remote.portsAttributes` only with the user's consent: the command asks every time, and
 * in a remote or browser window the first engine with a block offers it once (until "Don't Ask Again").
 */
import * as vscode from 'vscode';
import { defaultPortRanges } from '../core/ports';
import { errorMessage } from '../core/errors';
import type { EngineStore } from './engineStore';
import { SETTING_KEY, SETTING_SECTION, forwardingAttributes, ignoredRangesText, mergePortsAttributes, type ServingPort } from './portsAttributes';

const DONT_ASK = 'engineRoom.forwarding.dontAsk';
const ADD = 'Add to Workspace Settings';

export class PortForwarding implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private offered = false;

  constructor(
    private readonly store: EngineStore,
    private readonly state: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    // Only where VS Code forwards ports on its own: a remote window or the browser (code-server).
    if (vscode.env.remoteName !== undefined || vscode.env.uiKind === vscode.UIKind.Web) {
      this.disposables.push(store.onDidChangeEngine((c) => c.snapshot.portBlock && c.snapshot.pid !== null && void this.offer()));
    }
  }

  register(): vscode.Disposable[] {
    return [vscode.commands.registerCommand('engineRoom.keepBlocksUnforwarded', () => this.configure(true))];
  }

  private wanted(): { value: ReturnType<typeof mergePortsAttributes>; ranges: string } {
    const serving: ServingPort[] = this.store.snapshots().flatMap((s) => Object.values(s.ports).map((port) => ({ engine: s.name, port })));
    const wanted = forwardingAttributes(defaultPortRanges(), serving);
    const current = vscode.workspace.getConfiguration(SETTING_SECTION).inspect(SETTING_KEY)?.workspaceValue;
    return { value: mergePortsAttributes(current, wanted), ranges: ignoredRangesText(wanted) };
  }

  private async offer(): Promise<void> {
    if (this.offered || this.state.get(DONT_ASK) === true) return;
    if (vscode.workspace.getConfiguration(SETTING_SECTION).get('autoForwardPorts') === false) return;
    if (!this.wanted().value.changed) return;
    this.offered = true;
    await this.configure(false);
  }

  /** Asks, then writes the workspace setting. `explicit`: the user ran the command (say when nothing is to do). */
  async configure(explicit: boolean): Promise<void> {
    if (!vscode.workspace.workspaceFolders?.length) {
      void vscode.window.showInformationMessage('Open a folder first: the setting goes to the workspace\'s settings.');
      return;
    }
    const { value, ranges } = this.wanted();
    if (!value.changed) {
      if (explicit) void vscode.window.showInformationMessage(ranges ? `Engine Room: ports ${ranges} are already kept from being forwarded (remote.portsAttributes).` : 'Engine Room: the block range and the auto port range overlap: there is no range to keep from forwarding (set ENGINE_ROOM_BLOCK_RANGE).');
      return;
    }
    const message = `VS Code forwards every port that starts listening, the internal ports of engines' port blocks too. Keep ports ${ranges} from being forwarded? This adds them to "remote.portsAttributes" in this workspace's settings, with "onAutoForward": "ignore"; the engines' serving ports stay forwardable.`;
    const choice = explicit
      ? await vscode.window.showInformationMessage(message, { modal: true }, ADD)
      : await vscode.window.showInformationMessage(message, ADD, 'Not Now', "Don't Ask Again");
    if (choice === "Don't Ask Again") await this.state.update(DONT_ASK, true);
    if (choice !== ADD) return;
    try {
      await vscode.workspace.getConfiguration(SETTING_SECTION).update(SETTING_KEY, value.value, vscode.ConfigurationTarget.Workspace);
      this.log.info(`remote.portsAttributes: ports ${ranges} are not auto-forwarded`);
    } catch (e) {
      this.log.error(`could not write remote.portsAttributes: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`Engine Room: could not write remote.portsAttributes: ${errorMessage(e)}`, 'Show Log').then((c) => c && this.log.show());
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
